//go:build !linux

package dashboard

import "errors"

func diskUsage(string) (free, size uint64, err error) {
	return 0, 0, errors.New("disk usage is only read on Linux")
}
