# one block per fuzz target
