step "a" {
  shell = "cd ${path.module}" # ERROR: Invalid path attribute
}
