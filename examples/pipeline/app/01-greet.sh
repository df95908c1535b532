# A library function of the example application.
greet() {
  echo "hello from $1"
}
