# owned by the seraph component
