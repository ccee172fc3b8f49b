package main

import "github.com/kalisio/kargo"

func main() { kargo.Main(Stack()) }
