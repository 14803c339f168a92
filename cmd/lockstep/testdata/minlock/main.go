// Command minlock is the floor for the exec benchmark: the least a Go
// program can do to run a command under a Redis lock. It connects with
// go-redis (the same lean connection options as lockstep), takes the lock with
// SET NX PX, runs the command, and releases with a compare-and-delete script.
//
//	minlock redis://host:port KEY COMMAND [ARG...]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

var release = redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`)

func main() {
	opts, err := redis.ParseURL(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()
	var b [16]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	ok, err := c.SetNX(ctx, os.Args[2], token, 30e9).Result()
	if err != nil || !ok {
		fmt.Fprintln(os.Stderr, "busy or down:", err)
		os.Exit(3)
	}
	cmd := exec.Command(os.Args[3], os.Args[4:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	runErr := cmd.Run()
	if err := release.Run(ctx, c, []string{os.Args[2]}, token).Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(5)
	}
	if runErr != nil {
		os.Exit(1)
	}
}
