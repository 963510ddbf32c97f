# fuzz/manager_protocol.cmake: the vtpm-manager wire codec (runtime/manager/protocol.cpp) under
# libFuzzer, from an instrumented copy of its source over the store's instrumented copy
# (vtpm_store_fuzz, fuzz/state_file.cmake: SecretKey and wipe). Seeds: fuzz/corpus/manager_protocol/,
# the design's messages written out as bytes.
add_library(vtpm_manager_protocol_fuzz STATIC ${CMAKE_SOURCE_DIR}/runtime/manager/protocol.cpp)
target_include_directories(vtpm_manager_protocol_fuzz PUBLIC ${CMAKE_SOURCE_DIR}/runtime)
target_link_libraries(vtpm_manager_protocol_fuzz PUBLIC vtpm_store_fuzz)
target_compile_options(vtpm_manager_protocol_fuzz PRIVATE ${FSM_CORE_FLAGS} -fsanitize=fuzzer-no-link
                       ${FSM_FUZZ_SANITIZERS})

vtpm_fuzz_harness(manager_protocol vtpm_manager_protocol_fuzz)
