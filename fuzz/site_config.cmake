# fuzz/site_config.cmake: vtpmd's host configuration file (runtime/instance/site_config.cpp,
# /etc/vtpm/vtpmd.conf) and libvirt's state path under libFuzzer, from an instrumented copy of the
# source. Seeds: fuzz/corpus/site_config/.
add_library(vtpm_site_config_fuzz STATIC ${CMAKE_SOURCE_DIR}/runtime/instance/site_config.cpp)
target_include_directories(vtpm_site_config_fuzz PUBLIC ${CMAKE_SOURCE_DIR}/runtime)
target_compile_options(vtpm_site_config_fuzz PRIVATE ${FSM_CORE_FLAGS} -fsanitize=fuzzer-no-link
                       ${FSM_FUZZ_SANITIZERS})

vtpm_fuzz_harness(site_config vtpm_site_config_fuzz)
