package config

import (
	"bytes"
	"encoding"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Marshal writes c as normalised YAML: every key in schema order, defaults
// filled in, values in canonical form (durations like "24h", masked
// prefixes, addresses with ports). Parse of the result yields a Config equal
// to c. `gatehouse check-config` prints it.
func (c *Config) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(encode(reflect.ValueOf(c).Elem())); err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	return buf.Bytes(), nil
}

// encode is the mirror of decoder.decode.
func encode(v reflect.Value) *yaml.Node {
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
		}
		return encode(v.Elem())
	case isScalar(t):
		tag, value := encodeScalar(v)
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
	case t.Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, f := range fieldsOf(t) {
			n.Content = append(n.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: f.key},
				encode(v.Field(f.index)))
		}
		return n
	case t.Kind() == reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v.Len() == 0 || isScalar(t.Elem()) {
			n.Style = yaml.FlowStyle // allow: [10.0.0.0/8, 192.168.0.0/16]
		}
		for i := range v.Len() {
			n.Content = append(n.Content, encode(v.Index(i)))
		}
		return n
	}
	panic(fmt.Sprintf("config: cannot encode %s", t))
}

func encodeScalar(v reflect.Value) (tag, value string) {
	switch x := v.Interface().(type) {
	case time.Duration:
		return "!!str", FormatDuration(x)
	case netip.Prefix:
		return "!!str", x.String()
	case netip.AddrPort:
		if x.Port() == 0 {
			return "!!str", x.Addr().String()
		}
		return "!!str", x.String()
	case slog.Level:
		return "!!str", strings.ToLower(x.String())
	case encoding.TextMarshaler:
		b, err := x.MarshalText()
		if err != nil {
			panic(fmt.Sprintf("config: marshalling %T: %v", x, err)) // our types never fail
		}
		return "!!str", string(b)
	case bool:
		return "!!bool", strconv.FormatBool(x)
	case int:
		return "!!int", strconv.Itoa(x)
	case string:
		return "!!str", x
	}
	panic(fmt.Sprintf("config: cannot encode %s", v.Type()))
}
