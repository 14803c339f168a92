step "a" {
  shell = "true"
  lock "a" "b" { key = "k" } # ERROR: Extraneous label for lock
}
