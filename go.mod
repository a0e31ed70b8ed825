module github.com/tortoise-dev/tortoise

go 1.26.8
