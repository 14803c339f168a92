lockstep {
  backend "redis" {
    url = "redis://redis.internal:6379/0"
    tls { server_name = "a" }
    tls { server_name = "b" } # ERROR: Duplicate tls block
    cluster { addresses = ["a:6379"] }
    sentinel { # ERROR: Conflicting sentinel and cluster blocks
      master_name = "m"
      addresses   = ["b:26379"]
    }
    cluster { addresses = ["c:6379"] } # ERROR: Duplicate cluster block
  }
}
step "a" { shell = "true" }
