step "a" { shell = "true" }
step "a" { shell = "false" } # ERROR: Duplicate step declaration
