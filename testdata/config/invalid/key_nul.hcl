step "a" {
  shell = "true"
  lock {
    key = "k/\u0000" # ERROR: Invalid lock key
  }
  once {
    key = "done/${"\u0000"}" # ERROR: Invalid once key
  }
}
