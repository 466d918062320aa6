package main

import (
	"os"
	"path/filepath"

	"github.com/fsnotify/fsnotify"

	"gatehouse/config"
)

// watchSet follows the files a reload reads: the config file, and the list
// files, category directories and GeoIP databases it names. fsnotify watches directories,
// not files, because editors and list tools replace files by renaming new
// ones over them, which ends a watch on the file itself.
type watchSet struct {
	w        *fsnotify.Watcher
	config   string          // the config file ("" for the built-in default)
	lists    map[string]bool // list files and GeoIP databases
	listDirs map[string]bool // category directories and their folders: any change counts
	watching map[string]bool // directories added to w
}

func newWatchSet(configPath string) (*watchSet, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	ws := &watchSet{w: w, watching: map[string]bool{}}
	if configPath != "" {
		ws.config = filepath.Clean(configPath)
		if err := ws.watch(filepath.Dir(ws.config)); err != nil {
			w.Close()
			return nil, err
		}
	}
	return ws, nil
}

func (ws *watchSet) watch(dir string) error {
	if ws.watching[dir] {
		return nil
	}
	if err := ws.w.Add(dir); err != nil {
		return err
	}
	ws.watching[dir] = true
	return nil
}

// follow makes ws watch the lists cfg names. Directories that cannot be
// watched (not there yet) are returned as errors to log; SIGHUP still
// reloads them.
func (ws *watchSet) follow(cfg *config.Config) []error {
	ws.lists, ws.listDirs = map[string]bool{}, map[string]bool{}
	var errs []error
	// GeoIP databases are replaced whole by their update tools: a change
	// reloads like a list file's, and a file that fails to load leaves
	// the last good one in force (policy.Compile).
	for _, db := range []string{cfg.GeoIP.CountryDatabase, cfg.GeoIP.ASNDatabase} {
		if db == "" {
			continue
		}
		p := filepath.Clean(db)
		ws.lists[p] = true
		if err := ws.watch(filepath.Dir(p)); err != nil {
			errs = append(errs, err)
		}
	}
	for _, l := range cfg.Lists {
		if l.Path != "" {
			p := filepath.Clean(l.Path)
			ws.lists[p] = true
			if err := ws.watch(filepath.Dir(p)); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if l.Directory == "" {
			continue // a downloaded list: the refresher says when it changes
		}
		root := filepath.Clean(l.Directory)
		dirs := []string{root}
		if entries, err := os.ReadDir(root); err == nil {
			for _, e := range entries {
				if e.IsDir() || e.Type()&os.ModeSymlink != 0 {
					dirs = append(dirs, filepath.Join(root, e.Name()))
				}
			}
		}
		for _, d := range dirs {
			ws.listDirs[d] = true
			if err := ws.watch(d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// classify says whether an event concerns the config file or a list.
func (ws *watchSet) classify(ev fsnotify.Event) (isConfig, isList bool) {
	if ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) == 0 {
		return false, false
	}
	name := filepath.Clean(ev.Name)
	return name == ws.config, ws.lists[name] || ws.listDirs[filepath.Dir(name)] || ws.listDirs[name]
}

func (ws *watchSet) close() {
	if ws != nil {
		ws.w.Close()
	}
}
