package lock

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// EncodeKey turns user text into the part of a Redis key that lockstep puts
// inside its hash tag. The encoding is injective and its output contains no
// '{' or '}' (so user text can neither collide with another key nor move a
// key to another Cluster slot) and no glob characters (so SCAN patterns built
// from it match literally). '%', braces, glob characters '*?[]\', control
// characters and bytes that are not UTF-8 become %XX; everything else,
// including ':' '/' and unicode letters, stays readable.
func EncodeKey(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || needsEscape(r) {
			for j := 0; j < size; j++ {
				fmt.Fprintf(&b, "%%%02X", s[i+j])
			}
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(r rune) bool {
	switch r {
	case '%', '{', '}', '*', '?', '[', ']', '\\':
		return true
	}
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0)
}

// DecodeKey reverses EncodeKey. It fails on text EncodeKey cannot produce.
func DecodeKey(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("truncated escape in encoded key")
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return "", fmt.Errorf("bad escape %q in encoded key", s[i:i+3])
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	out := b.String()
	if EncodeKey(out) != s { // e.g. "%61" or a raw '{': not EncodeKey's output
		return "", fmt.Errorf("encoded key %q is not canonical", s)
	}
	return out, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// redisKeys are the Redis keys of one lock; all share the hash tag {enc(key)}.
type redisKeys struct {
	user     string   // the user's key
	all      []string // holders, queue: the scripts' KEYS
	chanBase string   // prefix of the waiters' channels (+ backend id)
}

// lockKeys returns key's Redis keys. The last result is cached: a release
// usually follows the acquire of the same key.
func (r *Redis) lockKeys(key string) redisKeys {
	if k := r.lastKeys.Load(); k != nil && k.user == key {
		return *k
	}
	base := r.prefix + "{" + EncodeKey(key) + "}:"
	k := &redisKeys{user: key, all: []string{base + "h", base + "q"}, chanBase: base + "w:"}
	r.lastKeys.Store(k)
	return *k
}

func (r *Redis) onceKey(key string) string {
	return r.prefix + "once:{" + EncodeKey(key) + "}"
}

// globEscape quotes the characters Redis' SCAN MATCH treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		switch c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// tagged extracts and decodes the user key between the first '{' and the next
// '}' of a Redis key found by SCAN.
func tagged(redisKey string, start int) (string, bool) {
	end := strings.IndexByte(redisKey[start:], '}')
	if end < 0 {
		return "", false
	}
	k, err := DecodeKey(redisKey[start : start+end])
	return k, err == nil
}
