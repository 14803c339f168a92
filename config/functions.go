package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// maxFileFuncSize caps what file() reads, so an expression cannot pull a
// huge file into memory.
const maxFileFuncSize = 4 << 20

// Functions returns the function table available to expressions, with file
// functions resolved against baseDir and env() through getenv (nil: os.Getenv).
// The table is a fresh map on every call; callers may add to it.
func Functions(baseDir string, getenv func(string) string) map[string]function.Function {
	if getenv == nil {
		getenv = os.Getenv
	}
	fns := map[string]function.Function{
		// strings
		"chomp": stdlib.ChompFunc, "format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc,
		"indent": stdlib.IndentFunc, "join": stdlib.JoinFunc, "lower": stdlib.LowerFunc,
		"regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc, "regex_replace": stdlib.RegexReplaceFunc,
		"replace": stdlib.ReplaceFunc, "split": stdlib.SplitFunc, "strrev": stdlib.ReverseFunc,
		"substr": stdlib.SubstrFunc, "title": stdlib.TitleFunc, "trim": stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc, "trimsuffix": stdlib.TrimSuffixFunc,
		"trimspace": stdlib.TrimSpaceFunc, "upper": stdlib.UpperFunc,
		// collections
		"chunklist": stdlib.ChunklistFunc, "coalesce": stdlib.CoalesceFunc,
		"coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
		"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "distinct": stdlib.DistinctFunc,
		"element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc, "keys": stdlib.KeysFunc,
		"length": stdlib.LengthFunc, "lookup": stdlib.LookupFunc, "merge": stdlib.MergeFunc,
		"range": stdlib.RangeFunc, "reverse": stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc, "setproduct": boundedSetProduct,
		"setsubtract": stdlib.SetSubtractFunc, "setunion": stdlib.SetUnionFunc,
		"setsymmetricdifference": stdlib.SetSymmetricDifferenceFunc,
		"slice":                  stdlib.SliceFunc, "sort": stdlib.SortFunc, "values": stdlib.ValuesFunc,
		"zipmap": stdlib.ZipmapFunc,
		// encoding
		"jsonencode": stdlib.JSONEncodeFunc, "jsondecode": stdlib.JSONDecodeFunc,
		"csvdecode": stdlib.CSVDecodeFunc,
		// numbers
		"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "floor": stdlib.FloorFunc,
		"log": stdlib.LogFunc, "max": stdlib.MaxFunc, "min": stdlib.MinFunc,
		"parseint": stdlib.ParseIntFunc, "pow": stdlib.PowFunc, "signum": stdlib.SignumFunc,
		// time
		"formatdate": stdlib.FormatDateFunc, "timeadd": stdlib.TimeAddFunc,
		// types
		"tostring": stdlib.MakeToFunc(cty.String), "tonumber": stdlib.MakeToFunc(cty.Number),
		"tobool": stdlib.MakeToFunc(cty.Bool), "tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tomap": stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		// errors
		"try": tryfunc.TryFunc, "can": tryfunc.CanFunc,
		// lockstep
		"env":        envFunc(getenv),
		"file":       fileFunc(baseDir),
		"fileexists": fileExistsFunc(baseDir),
		"abspath":    stringFunc(func(s string) (string, error) { return filepath.Abs(s) }),
		"basename":   stringFunc(func(s string) (string, error) { return filepath.Base(s), nil }),
		"dirname":    stringFunc(func(s string) (string, error) { return filepath.Dir(s), nil }),
		"sha256": stringFunc(func(s string) (string, error) {
			sum := sha256.Sum256([]byte(s))
			return hex.EncodeToString(sum[:]), nil
		}),
	}
	return fns
}

// maxProduct caps the size of a setproduct result: the product of a few
// ranges would otherwise exhaust memory at validate time.
const maxProduct = 100000

var boundedSetProduct = function.New(&function.Spec{
	Description: stdlib.SetProductFunc.Description(),
	VarParam:    stdlib.SetProductFunc.VarParam(),
	Type: func(args []cty.Value) (cty.Type, error) {
		return stdlib.SetProductFunc.ReturnTypeForValues(args)
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		total := 1
		for _, a := range args {
			a, _ = a.Unmark()
			if a.IsKnown() && !a.IsNull() && a.CanIterateElements() {
				total *= max(1, a.LengthInt())
				if total > maxProduct {
					return cty.NilVal, fmt.Errorf("the product would have more than %d elements", maxProduct)
				}
			}
		}
		return stdlib.SetProductFunc.Call(args)
	},
})

// stringFunc makes a function of one string returning a string.
func stringFunc(f func(string) (string, error)) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "str", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			s, err := f(args[0].AsString())
			if err != nil {
				return cty.UnknownVal(cty.String), err
			}
			return cty.StringVal(s), nil
		},
	})
}

func envFunc(getenv func(string) string) function.Function {
	return stringFunc(func(name string) (string, error) { return getenv(name), nil })
}

func resolve(baseDir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(baseDir, p)
}

func fileFunc(baseDir string) function.Function {
	return stringFunc(func(p string) (string, error) {
		f, err := os.Open(resolve(baseDir, p))
		if err != nil {
			return "", fmt.Errorf("cannot read %s: %s", p, errText(err))
		}
		defer f.Close()
		if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
			return "", fmt.Errorf("cannot read %s: not a regular file", p)
		}
		b, err := io.ReadAll(io.LimitReader(f, maxFileFuncSize+1))
		if err != nil {
			return "", fmt.Errorf("cannot read %s: %s", p, errText(err))
		}
		if len(b) > maxFileFuncSize {
			return "", fmt.Errorf("%s is larger than %d bytes", p, maxFileFuncSize)
		}
		return string(b), nil
	})
}

func fileExistsFunc(baseDir string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			st, err := os.Stat(resolve(baseDir, args[0].AsString()))
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return cty.False, nil
				}
				return cty.UnknownVal(cty.Bool), fmt.Errorf("cannot stat %s: %s", args[0].AsString(), errText(err))
			}
			return cty.BoolVal(st.Mode().IsRegular()), nil
		},
	})
}
