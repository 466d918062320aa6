//go:build !linux

package main

func giveToStateDirOwner(string, ...string) {}
