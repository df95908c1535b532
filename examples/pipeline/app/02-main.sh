# The example application's entry point: the toolchain "compiles" the
# *.sh sources, in name order, into one executable.
greet "the s2i pipeline"
