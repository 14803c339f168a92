resource "x" "y" {} # ERROR: Unsupported block type

step "a" { shell = "true" }
