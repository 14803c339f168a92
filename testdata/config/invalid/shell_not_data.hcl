variable "n" { type = number }

step "arith" {
  shell = "echo $(( ${var.n} + 1 ))" # ERROR: Interpolation cannot be passed as data
}

step "backslash" {
  shell = "echo \\${var.n}" # ERROR: Interpolation cannot be passed as data
}

step "quoted_heredoc" {
  shell = <<-EOT
    cat <<'EOF'
    ${var.n} # ERROR: Interpolation cannot be passed as data
    EOF
  EOT
}
