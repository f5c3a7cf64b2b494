module github.com/ingestd/ingestd

go 1.26.8

require github.com/klauspost/compress v1.20.4

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0 // indirect
	github.com/molecule-man/go-brrr v1.3.1 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasthttp v1.78.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
)
