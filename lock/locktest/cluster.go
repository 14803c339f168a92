package locktest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cluster is a Redis Cluster of three masters (no replicas) on free loopback
// ports, each owning a third of the 16384 hash slots, stopped when the test
// ends.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts three cluster-enabled servers, assigns the slots
// (CLUSTER ADDSLOTSRANGE), joins them (CLUSTER MEET) and returns once every
// node reports cluster_state:ok and knows all three nodes.
func StartCluster(tb TB) *Cluster {
	tb.Helper()
	c := &Cluster{}
	for i := 0; i < 3; i++ {
		c.Nodes = append(c.Nodes, StartServer(tb, &ServerOptions{Args: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000",
		}}))
	}
	ranges := [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}}
	for i, n := range c.Nodes {
		if _, err := n.Do("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(ranges[i][0]), strconv.Itoa(ranges[i][1])); err != nil {
			tb.Fatalf("cluster addslotsrange on %s: %v", n.Addr, err)
		}
		// Distinct epochs spare the nodes a collision round.
		if _, err := n.Do("CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1)); err != nil {
			tb.Fatalf("cluster set-config-epoch on %s: %v", n.Addr, err)
		}
	}
	for _, n := range c.Nodes[1:] {
		if _, err := c.Nodes[0].Do("CLUSTER", "MEET", "127.0.0.1", portOf(n.Addr)); err != nil {
			tb.Fatalf("cluster meet %s: %v", n.Addr, err)
		}
	}
	waitFor(tb, 20*time.Second, "cluster_state:ok on every node", func(ctx context.Context) error {
		for _, n := range c.Nodes {
			if err := withClient(n.Addr, func(cl *redisClient) error { return clusterReady(ctx, cl) }); err != nil {
				return fmt.Errorf("%s: %w", n.Addr, err)
			}
		}
		return nil
	})
	return c
}

func clusterReady(ctx context.Context, c *redisClient) error {
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !containsLine(info, "cluster_state:ok") || !containsLine(info, "cluster_known_nodes:3") {
		return fmt.Errorf("cluster info: %s", strings.ReplaceAll(info, "\r\n", " "))
	}
	return nil
}

// Addrs is the node address list for a cluster client (the backend block's
// cluster { addresses }).
func (c *Cluster) Addrs() []string {
	var a []string
	for _, n := range c.Nodes {
		a = append(a, n.Addr)
	}
	return a
}

// NodeForKey returns the node that owns key's hash slot (CLUSTER KEYSLOT).
func (c *Cluster) NodeForKey(tb TB, key string) *Server {
	tb.Helper()
	slot := c.Slot(tb, key)
	switch {
	case slot <= 5460:
		return c.Nodes[0]
	case slot <= 10922:
		return c.Nodes[1]
	}
	return c.Nodes[2]
}

// Slot returns the hash slot of key, as the cluster computes it.
func (c *Cluster) Slot(tb TB, key string) int {
	tb.Helper()
	out, err := c.Nodes[0].Do("CLUSTER", "KEYSLOT", key)
	if err != nil {
		tb.Fatalf("cluster keyslot: %v", err)
	}
	n, err := strconv.Atoi(out)
	if err != nil {
		tb.Fatalf("cluster keyslot answered %q", out)
	}
	return n
}
