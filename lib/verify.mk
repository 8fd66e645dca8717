# owned by the verify component
