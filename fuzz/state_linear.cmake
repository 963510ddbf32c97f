# fuzz/state_linear.cmake: swtpm's linear state file parser (runtime/store/linear_format.h,
# `--tpmstate backend-uri=file://`) under libFuzzer, against the instrumented store library of
# state_file.cmake. Seeds: fuzz/corpus/state_linear/ (a file swtpm 0.7.1 wrote, ours, and the
# header damage of swtpm #1170–#1174).
vtpm_fuzz_harness(state_linear vtpm_store_fuzz)
