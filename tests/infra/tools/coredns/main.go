// Command coredns is CoreDNS v1.12.1 (the version kubeadm deploys with Kubernetes v1.34) with only the
// plugins the test cluster's Corefile uses, so the build skips the cloud DNS providers' SDKs. CoreDNS
// documents this way of choosing plugins at compile time: set dnsserver.Directives, import the plugins.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

// In CoreDNS's own order (core/dnsserver/zdirectives.go): the order of the plugin chain.
var directives = []string{"reload", "ready", "health", "errors", "cache", "kubernetes", "loop"}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
