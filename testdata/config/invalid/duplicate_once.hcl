step "a" {
  shell = "true"
  once { key = "a" }
  once { key = "b" } # ERROR: Duplicate once block
}
