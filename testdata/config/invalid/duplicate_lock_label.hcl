step "a" {
  shell = "true"
  lock "db" { key = "a" }
  lock "db" { key = "b" } # ERROR: Duplicate lock label
}
