# owned by the keys component
