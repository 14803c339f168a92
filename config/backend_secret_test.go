package config

import (
	"slices"
	"testing"
)

// TestLoad_backendSecretEnv: the names env() read for a password, or for a
// url that carries one, are listed in SecretEnv; names read for other
// attributes, or for a url without a password, are not.
func TestLoad_backendSecretEnv(t *testing.T) {
	env := map[string]string{
		"PW_URL": "redis://:pw@host:6379", "HOST": "host", "PW": "pw", "SENT_PW": "spw",
		"PREFIX": "ci:", "EMPTY": "",
	}
	getenv := func(k string) string { return env[k] }
	cases := []struct {
		name, body string
		want       []string
	}{
		{"url with a password", `url = env("PW_URL")`, []string{"PW_URL"}},
		{"url without one", `url = "redis://${env("HOST")}:6379"`, nil},
		{"password", `
    url      = "redis://${env("HOST")}:6379"
    password = env("PW")`, []string{"PW"}},
		{"password assembled from two", `
    url      = "redis://h:1"
    password = "${env("PW")}${env("PREFIX")}"`, []string{"PW", "PREFIX"}},
		{"empty password", `
    url      = "redis://h:1"
    password = env("EMPTY")`, nil},
		{"sentinel password and key prefix", `
    key_prefix = env("PREFIX")
    sentinel {
      master_name = "m"
      addresses   = ["a:1"]
      password    = env("SENT_PW")
    }`, []string{"SENT_PW"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"m.hcl": "lockstep {\n  backend \"redis\" {\n    " + c.body +
				"\n  }\n}\nstep \"a\" { shell = \"true\" }\n"})
			w, diags := Load(dir, &LoadOptions{Getenv: getenv})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if got := w.Settings.Backend.SecretEnv; !slices.Equal(got, c.want) {
				t.Errorf("SecretEnv = %q, want %q", got, c.want)
			}
		})
	}
}
