# fuzz/state_file.cmake: the state store's decoders (runtime/store: blob container, state files,
# control-channel blobs) under libFuzzer, from an instrumented copy of the store's sources (as
# fsm_gen_fuzz is for the compiler). state_file_seeds (uninstrumented, not run by the build)
# rewrites fuzz/corpus/state_file/.
file(GLOB VTPM_STORE_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/runtime/store/*.cpp)
list(FILTER VTPM_STORE_FUZZ_SOURCES EXCLUDE REGEX "_test\\.cpp$")
add_library(vtpm_store_fuzz STATIC ${VTPM_STORE_FUZZ_SOURCES})
target_include_directories(vtpm_store_fuzz PUBLIC ${CMAKE_SOURCE_DIR}/runtime)
target_link_libraries(vtpm_store_fuzz PUBLIC OpenSSL::Crypto)
target_compile_options(vtpm_store_fuzz PRIVATE ${FSM_CORE_FLAGS} -fsanitize=fuzzer-no-link
                       ${FSM_FUZZ_SANITIZERS})

vtpm_fuzz_harness(state_file vtpm_store_fuzz)

add_executable(state_file_seeds EXCLUDE_FROM_ALL state_file_seeds.cpp)
target_link_libraries(state_file_seeds PRIVATE vtpm::store)
target_compile_options(state_file_seeds PRIVATE ${FSM_WARNINGS})
