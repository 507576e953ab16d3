package device

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dpsctl/dpsctl/pkg/store"
)

func TestPickHashed(t *testing.T) {
	hubs := []store.LinkedHub{{HostName: "b", AllocationWeight: 3}, {HostName: "a", AllocationWeight: 1}, {HostName: "z", AllocationWeight: 0}}
	counts := map[string]int{}
	for i := range 4000 {
		id := fmt.Sprintf("device-%d", i)
		h := pickHashed(id, hubs)
		counts[h.HostName]++
		// Stable: the order of the candidates and the case of the id do not
		// matter.
		if again := pickHashed(strings.ToUpper(id), []store.LinkedHub{hubs[2], hubs[1], hubs[0]}); again.HostName != h.HostName {
			t.Fatalf("%s: %s then %s", id, h.HostName, again.HostName)
		}
	}
	if counts["z"] != 0 || counts["a"] < 800 || counts["a"] > 1200 || counts["b"] < 2800 || counts["b"] > 3200 {
		t.Fatalf("weights 3:1:0 gave %v", counts)
	}
	// All weights zero: equal shares.
	zero := []store.LinkedHub{{HostName: "a"}, {HostName: "b"}}
	seen := map[string]bool{}
	for i := range 100 {
		seen[pickHashed(fmt.Sprint(i), zero).HostName] = true
	}
	if len(seen) != 2 {
		t.Fatalf("zero weights used %v", seen)
	}
}

func TestWebhookHostAllowed(t *testing.T) {
	a, err := parseWebhookAllow([]string{"alloc.example.com", "*.functions.example.net", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host string
		want bool
	}{
		{"alloc.example.com", true},
		{"ALLOC.example.com.", true},
		{"x.alloc.example.com", false},
		{"example.com", false},
		{"app.functions.example.net", true},
		{"a.b.functions.example.net", true},
		{"functions.example.net", false},
		{"badfunctions.example.net", false},
		{"10.1.2.3", false}, // addresses are checked when dialling
	}
	for _, tt := range tests {
		if got := a.hostAllowed(tt.host); got != tt.want {
			t.Errorf("hostAllowed(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}
