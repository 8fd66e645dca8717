# owned by the sig component
