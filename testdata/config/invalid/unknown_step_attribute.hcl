step "a" {
  shell   = "true"
  comand  = ["x"] # ERROR: Unsupported argument
}
