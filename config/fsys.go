package config

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// fileSystem is how config reads files: through an fs.FS, either the
// caller's (names are slash-separated paths in it) or, when fsys is nil, the
// operating system's, as os.DirFS of the root of the path's volume with the
// cleaned path below it, so absolute and relative OS paths keep working.
type fileSystem struct {
	fsys fs.FS // nil: the OS
}

// resolve returns the file system and the name in it of p, which is
// relative to dir unless absolute.
func (f fileSystem) resolve(dir, p string) (fs.FS, string, error) {
	if f.fsys == nil {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, "", err
		}
		vol := filepath.VolumeName(abs)
		name := strings.TrimPrefix(filepath.ToSlash(abs[len(vol):]), "/")
		if name == "" {
			name = "."
		}
		return os.DirFS(vol + string(filepath.Separator)), name, nil
	}
	p = filepath.ToSlash(p)
	if !path.IsAbs(p) {
		p = path.Join(filepath.ToSlash(dir), p)
	}
	name := strings.TrimPrefix(path.Clean(p), "/")
	if name == "" {
		name = "."
	}
	if !fs.ValidPath(name) {
		return nil, "", &fs.PathError{Op: "open", Path: p, Err: fs.ErrInvalid}
	}
	return f.fsys, name, nil
}

// join joins a name to a directory the way the file system spells paths.
func (f fileSystem) join(dir, name string) string {
	if f.fsys == nil {
		return filepath.Join(dir, name)
	}
	return path.Join(dir, name)
}

// base returns the last element of a path.
func (f fileSystem) base(p string) string {
	if f.fsys == nil {
		return filepath.Base(p)
	}
	return path.Base(filepath.ToSlash(p))
}

// dir returns the directory of a path, the way the file system spells it.
func (f fileSystem) dir(p string) string {
	if f.fsys == nil {
		return filepath.Dir(p)
	}
	return path.Dir(filepath.ToSlash(p))
}

// abs returns the absolute form of a directory for path.root: the OS's
// absolute path, or the cleaned path in the caller's file system.
func (f fileSystem) abs(dir string) string {
	if f.fsys == nil {
		if a, err := filepath.Abs(dir); err == nil {
			return a
		}
		return dir
	}
	return path.Clean(filepath.ToSlash(dir))
}

func (f fileSystem) stat(dir, p string) (fs.FileInfo, error) {
	fsys, name, err := f.resolve(dir, p)
	if err != nil {
		return nil, err
	}
	return fs.Stat(fsys, name)
}

func (f fileSystem) readDir(p string) ([]fs.DirEntry, error) {
	fsys, name, err := f.resolve("", p)
	if err != nil {
		return nil, err
	}
	return fs.ReadDir(fsys, name)
}

// errTooLarge is returned by readCapped for a file over its limit; the
// *fs.PathError carries the size seen.
var errTooLarge = errors.New("file too large")

// readCapped reads a file of at most limit bytes. A larger file is
// errTooLarge (with n the size seen); with regular set, anything but a
// regular file is an error.
func (f fileSystem) readCapped(dir, p string, limit int64, regular bool) (b []byte, n int64, err error) {
	fsys, name, err := f.resolve(dir, p)
	if err != nil {
		return nil, 0, err
	}
	fh, err := fsys.Open(name)
	if err != nil {
		return nil, 0, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, 0, err
	}
	if regular && !st.Mode().IsRegular() {
		return nil, 0, errors.New("not a regular file")
	}
	if st.Size() > limit {
		return nil, st.Size(), errTooLarge
	}
	b, err = io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(b)) > limit {
		return nil, int64(len(b)), errTooLarge
	}
	return b, int64(len(b)), nil
}
