step "a" {
  shell = "true"
  lock {
    key = "" # ERROR: Empty lock key
  }
  once {
    key = null # ERROR: Empty once key
  }
}
