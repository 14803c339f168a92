step "a" {
  shell = "true"
  retry { attempts = 2 }
  retry { attempts = 3 } # ERROR: Duplicate retry block
}
