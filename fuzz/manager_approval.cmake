# fuzz/manager_approval.cmake: vtpm-manager's group approval file and group-key reader
# (runtime/manager/approval.cpp: parse_approval, parse_group_key, the ECDSA DER signature) under
# libFuzzer, from an instrumented copy of its source over vtpm_store_fuzz (OpenSSL, wipe).
# Seeds: fuzz/corpus/manager_approval/ (approval files of the design's layout, and truncations).
add_library(vtpm_manager_approval_fuzz STATIC ${CMAKE_SOURCE_DIR}/runtime/manager/approval.cpp)
target_include_directories(vtpm_manager_approval_fuzz PUBLIC ${CMAKE_SOURCE_DIR}/runtime)
target_link_libraries(vtpm_manager_approval_fuzz PUBLIC vtpm_store_fuzz)
target_compile_options(vtpm_manager_approval_fuzz PRIVATE ${FSM_CORE_FLAGS} -fsanitize=fuzzer-no-link
                       ${FSM_FUZZ_SANITIZERS})

vtpm_fuzz_harness(manager_approval vtpm_manager_approval_fuzz)
