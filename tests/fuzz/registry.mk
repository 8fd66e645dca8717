# owned by the registry component
