# owned by the policy component
