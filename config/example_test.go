package config_test

import (
	"fmt"

	"gatehouse/config"
)

func ExampleParse() {
	_, err := config.Parse("/etc/gatehouse/gatehouse.yaml", []byte(`version: 1
resolver:
  mode: forward
  upstreams:
    - address: 9.9.9.9
    - address: 9.9.9.9:99999
  timout: 2s
cache:
  max_ttl: forever
groups:
  - name: staff
default_group: pupils
`))
	fmt.Println(err)
	// Output:
	// /etc/gatehouse/gatehouse.yaml:6:16: resolver.upstreams[1].address: "9.9.9.9:99999" is not a valid address: port must be a number from 1 to 65535
	// /etc/gatehouse/gatehouse.yaml:7:3: resolver.timout: unknown key "timout"; did you mean "timeout"?
	// /etc/gatehouse/gatehouse.yaml:9:12: cache.max_ttl: expected a duration like "5s", "90m" or "7d", got "forever"
	// /etc/gatehouse/gatehouse.yaml:12:16: default_group: "pupils" is not one of the groups (staff)
}

func ExampleParse_defaults() {
	c, err := config.Parse("site.yaml", []byte(`version: 1
resolver:
  mode: forward
  upstreams: [{address: 192.0.2.53, protocol: tls, tls_server_name: dns.example}]
cache: {max_ttl: 7d}
groups: [{name: everyone}]
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Resolver.Upstreams[0].Address, c.Cache.MaxTTL, c.DefaultGroup)
	// Output:
	// 192.0.2.53:853 168h0m0s everyone
}
