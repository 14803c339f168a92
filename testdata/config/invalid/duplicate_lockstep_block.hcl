lockstep {}
lockstep {} # ERROR: Duplicate lockstep block
step "a" { shell = "true" }
