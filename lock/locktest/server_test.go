package locktest

import "testing"

func TestStartServer(t *testing.T) {
	for _, unix := range []bool{false, true} {
		s := StartServer(t, &ServerOptions{Unix: unix})
		if _, err := s.Do("SET", "k", "v"); err != nil {
			t.Fatal(err)
		}
		if v, err := s.Do("GET", "k"); err != nil || v != "v" {
			t.Fatalf("GET k = %q, %v; want v", v, err)
		}
		s.Restart()
		if v, err := s.Do("EXISTS", "k"); err != nil || v != "0" {
			t.Fatalf("after restart EXISTS k = %q, %v; want 0", v, err)
		}
	}
}
