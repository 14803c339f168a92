package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// maxFileFuncSize caps what file() reads, so an expression cannot pull a
// huge file into memory.
const maxFileFuncSize = 4 << 20

// Functions returns the function table available to expressions, with file
// functions resolved against baseDir and env() through getenv (nil:
// os.Getenv), reading the OS's files. The table is a fresh map on every
// call; callers may add to it. Every function is bounded by MaxValueSize
// (limits.go).
func Functions(baseDir string, getenv func(string) string) map[string]function.Function {
	return functionsFS(fileSystem{}, baseDir, getenv)
}

// functionsFS is Functions reading files through files.
func functionsFS(files fileSystem, baseDir string, getenv func(string) string) map[string]function.Function {
	if getenv == nil {
		getenv = os.Getenv
	}
	std := stdFunctions()
	fns := make(map[string]function.Function, len(std)+8)
	for name, f := range std {
		fns[name] = f
	}
	fns["env"] = envFunc(getenv)
	fns["file"] = fileFunc(files, baseDir)
	fns["fileexists"] = fileExistsFunc(files, baseDir)
	return fns
}

var (
	stdOnce  sync.Once
	stdTable map[string]function.Function
)

// stdFunctions is the part of the table that depends on nothing, wrapped
// with its size limits once per process.
func stdFunctions() map[string]function.Function {
	stdOnce.Do(func() {
		raw := map[string]function.Function{
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
			// lockstep
			"abspath":  stringFunc(func(s string) (string, error) { return filepath.Abs(s) }),
			"basename": stringFunc(func(s string) (string, error) { return filepath.Base(s), nil }),
			"dirname":  stringFunc(func(s string) (string, error) { return filepath.Dir(s), nil }),
			"sha256": stringFunc(func(s string) (string, error) {
				sum := sha256.Sum256([]byte(s))
				return hex.EncodeToString(sum[:]), nil
			}),
		}
		stdTable = make(map[string]function.Function, len(raw)+2)
		for name, f := range raw {
			stdTable[name] = limited(name, f)
		}
		// try and can return what their argument expression built, which
		// was bounded when it was built.
		stdTable["try"], stdTable["can"] = tryfunc.TryFunc, tryfunc.CanFunc
	})
	return stdTable
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
					return cty.NilVal, &SizeError{What: "the result of setproduct()", Size: total * elementCost, Limit: MaxValueSize}
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

// fileFunc reads files through files. Contents are cached by path while the
// file's size and modification time stay the same, so that an expression
// reading the same file over and over costs one read and no memory.
func fileFunc(files fileSystem, baseDir string) function.Function {
	type entry struct {
		size int64
		mod  time.Time
		text string
	}
	var mu sync.Mutex
	cache, cached := map[string]entry{}, 0
	return stringFunc(func(p string) (string, error) {
		st, err := files.stat(baseDir, p)
		if err == nil {
			mu.Lock()
			e, ok := cache[p]
			mu.Unlock()
			if ok && e.size == st.Size() && e.mod.Equal(st.ModTime()) {
				return e.text, nil
			}
		}
		b, _, err := files.readCapped(baseDir, p, maxFileFuncSize, true)
		switch {
		case errors.Is(err, errTooLarge):
			return "", fmt.Errorf("%s is larger than %d bytes", p, maxFileFuncSize)
		case err != nil:
			return "", fmt.Errorf("cannot read %s: %s", p, errText(err))
		}
		s := string(b)
		if st != nil && int64(len(s)) == st.Size() {
			mu.Lock()
			if cached+len(s) <= MaxEvalSize {
				cache[p], cached = entry{size: st.Size(), mod: st.ModTime(), text: s}, cached+len(s)
			}
			mu.Unlock()
		}
		return s, nil
	})
}

func fileExistsFunc(files fileSystem, baseDir string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			st, err := files.stat(baseDir, args[0].AsString())
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
