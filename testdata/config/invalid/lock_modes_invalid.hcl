step "a" {
  shell = "true"
  lock {
    key         = "k"
    mode        = "shard" # ERROR: Invalid mode value
    queue       = "lifo" # ERROR: Invalid queue value
    max_waiters = 0 # ERROR: Invalid lock max_waiters
  }
}

lock "env" {
  key   = "env"
  mode  = "shared"
  limit = 3 # ERROR: Shared lock with a limit
}
