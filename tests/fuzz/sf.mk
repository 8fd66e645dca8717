# owned by the sf component
