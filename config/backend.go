package config

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var settingsSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "backend", LabelNames: []string{"type"}}},
}

var redisSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "url"}, {Name: "username"}, {Name: "password"}, {Name: "key_prefix"}, {Name: "db"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "sentinel"}, {Type: "cluster"}, {Type: "tls"}},
}

var localSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "path"}}}

var sentinelSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "master_name", Required: true}, {Name: "addresses", Required: true},
		{Name: "username"}, {Name: "password"},
	},
}

var clusterSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "addresses", Required: true}}}

var tlsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "ca_file"}, {Name: "cert_file"}, {Name: "key_file"}, {Name: "server_name"},
		{Name: "insecure_skip_verify"},
	},
}

// backendDecoder evaluates backend attributes to plain values. Only
// functions are in scope: a backend is chosen before variables exist.
type backendDecoder struct {
	ctx   *hcl.EvalContext
	diags hcl.Diagnostics
	read  []string // names env() looked up since the last secret began
}

// decodeSettings decodes the lockstep block; file functions in it resolve
// relative paths against dir, the workflow directory, as everywhere else.
func decodeSettings(b *hcl.Block, files fileSystem, dir string, getenv func(string) string) (*Settings, hcl.Diagnostics) {
	instrumentBody(b.Body) // evaluated now, before the checks instrument everything else
	s := &Settings{DeclRange: b.DefRange}
	content, diags := b.Body.Content(settingsSchema)
	for _, bb := range content.Blocks {
		if s.Backend != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate backend block",
				Detail:   fmt.Sprintf("The lockstep block may have only one backend; the first was declared at %s.", s.Backend.DeclRange),
				Subject:  bb.DefRange.Ptr(),
			})
			continue
		}
		d := &backendDecoder{}
		d.ctx = &hcl.EvalContext{Functions: functionsFS(files, dir, d.recording(getenv))}
		s.Backend = d.backend(bb)
		diags = append(diags, d.diags...)
	}
	return s, diags
}

func (d *backendDecoder) backend(b *hcl.Block) *Backend {
	be := &Backend{Type: b.Labels[0], DeclRange: b.DefRange}
	switch be.Type {
	case "local":
		c := d.content(b.Body, localSchema)
		be.Path = d.str(c, "path")
	case "redis":
		c := d.content(b.Body, redisSchema)
		be.URL = d.secret(be, c, "url", urlHasPassword)
		be.Username = d.str(c, "username")
		if a := c.Attributes["url"]; a != nil {
			be.URLRange = a.Expr.Range().Ptr()
		}
		be.Password = d.secret(be, c, "password", nonEmpty)
		be.KeyPrefix = d.str(c, "key_prefix")
		be.DB = d.integer(c, "db")
		d.redisBlocks(be, c.Blocks)
	default:
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unsupported backend type",
			Detail:   fmt.Sprintf("The backend type %q is not supported; use \"redis\" or \"local\".%s", be.Type, didYouMean(be.Type, []string{"redis", "local"})),
			Subject:  labelRange(b).Ptr(),
		})
	}
	return be
}

// redisBlocks decodes the sentinel, cluster and tls blocks of a redis
// backend: at most one of each, and not both sentinel and cluster.
func (d *backendDecoder) redisBlocks(be *Backend, blocks hcl.Blocks) {
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		other := map[string]string{"sentinel": "cluster", "cluster": "sentinel"}[b.Type]
		if prev, ok := seen[b.Type]; ok {
			d.diags = append(d.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate %s block", b.Type),
				Detail:   fmt.Sprintf("A redis backend may have only one %s block; the first was declared at %s.", b.Type, prev),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		if prev, ok := seen[other]; ok {
			d.diags = append(d.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Conflicting sentinel and cluster blocks",
				Detail: fmt.Sprintf("A redis backend uses either Sentinel or Cluster; this %s block conflicts with the %s block at %s.",
					b.Type, other, prev),
				Subject: b.DefRange.Ptr(),
			})
			continue
		}
		seen[b.Type] = b.DefRange
		d.redisBlock(be, b)
	}
}

func (d *backendDecoder) redisBlock(be *Backend, b *hcl.Block) {
	switch b.Type {
	case "sentinel":
		c := d.content(b.Body, sentinelSchema)
		be.Sentinel = &Sentinel{
			MasterName: d.str(c, "master_name"), Addresses: d.strs(c, "addresses"),
			Username: d.str(c, "username"), Password: d.secret(be, c, "password", nonEmpty),
		}
	case "cluster":
		c := d.content(b.Body, clusterSchema)
		be.Cluster = &Cluster{Addresses: d.strs(c, "addresses")}
	case "tls":
		c := d.content(b.Body, tlsSchema)
		be.TLS = &TLS{
			CAFile: d.str(c, "ca_file"), CertFile: d.str(c, "cert_file"), KeyFile: d.str(c, "key_file"),
			ServerName: d.str(c, "server_name"),
		}
		if v := d.value(c, "insecure_skip_verify", cty.Bool); !v.IsNull() {
			be.TLS.InsecureSkipVerify = v.True()
		}
	}
}

func (d *backendDecoder) content(body hcl.Body, schema *hcl.BodySchema) *hcl.BodyContent {
	c, diags := body.Content(schema)
	d.diags = append(d.diags, diags...)
	return c
}

// value evaluates attribute name of c as want; null when absent or invalid.
func (d *backendDecoder) value(c *hcl.BodyContent, name string, want cty.Type) cty.Value {
	a, ok := c.Attributes[name]
	if !ok {
		return cty.NullVal(want)
	}
	v, diags := a.Expr.Value(withLimits(d.ctx))
	diags = sizeDiags(diags)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NullVal(want)
	}
	conv, err := convert.Convert(v, want)
	if err == nil && !conv.IsWhollyKnown() {
		err = fmt.Errorf("the value is not known")
	}
	if err != nil {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   fmt.Sprintf("The %s attribute must be a %s: %s.", name, want.FriendlyName(), errText(err)),
			Subject:  a.Expr.Range().Ptr(),
		})
		return cty.NullVal(want)
	}
	return conv
}

func (d *backendDecoder) str(c *hcl.BodyContent, name string) string {
	if v := d.value(c, name, cty.String); !v.IsNull() {
		return v.AsString()
	}
	return ""
}

// recording wraps getenv so that the decoder learns which names env()
// looked up (getenv nil: os.Getenv).
func (d *backendDecoder) recording(getenv func(string) string) func(string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	return func(name string) string {
		d.read = append(d.read, name)
		return getenv(name)
	}
}

// secret is str for an attribute that may hold a secret: when isSecret says
// the value does, the names env() read for it join be.SecretEnv.
func (d *backendDecoder) secret(be *Backend, c *hcl.BodyContent, name string, isSecret func(string) bool) string {
	d.read = d.read[:0]
	s := d.str(c, name)
	if isSecret(s) {
		for _, n := range d.read {
			if !slices.Contains(be.SecretEnv, n) {
				be.SecretEnv = append(be.SecretEnv, n)
			}
		}
	}
	return s
}

func nonEmpty(s string) bool { return s != "" }

// urlHasPassword reports whether a backend URL carries a password
// (scheme://user:PASSWORD@host).
func urlHasPassword(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		// Unparsable, it may still hold one: err on the side of secrecy.
		return strings.Contains(s, "@")
	}
	_, ok := u.User.Password()
	return ok
}

func (d *backendDecoder) strs(c *hcl.BodyContent, name string) []string {
	v := d.value(c, name, cty.List(cty.String))
	if v.IsNull() {
		return nil
	}
	var out []string
	for _, e := range v.AsValueSlice() {
		if !e.IsNull() {
			out = append(out, e.AsString())
		}
	}
	return out
}

func (d *backendDecoder) integer(c *hcl.BodyContent, name string) int {
	v := d.value(c, name, cty.Number)
	if v.IsNull() {
		return 0
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 || n < 0 || n > 1<<16 {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid database number",
			Detail:   "The db attribute must be a whole number from 0 upwards.",
			Subject:  c.Attributes[name].Expr.Range().Ptr(),
		})
		return 0
	}
	return int(n)
}
