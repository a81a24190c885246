# Compiles SOURCE with nothing but the compiler and FLAGS (include paths), then runs it.
#   cmake -DCXX=g++ -DSOURCE=main.cpp -DOUT=prog "-DFLAGS=-Iinclude|-pthread" -P dropin.cmake
string(REPLACE "|" ";" _flags "${FLAGS}")
get_filename_component(_dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${_dir}")
message("${CXX} -std=c++20 ${_flags} ${SOURCE} -o ${OUT}")
execute_process(COMMAND "${CXX}" -std=c++20 ${_flags} "${SOURCE}" -o "${OUT}" RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "dropin: compiling with only the include path failed")
endif()
execute_process(COMMAND "${OUT}" RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "dropin: ${OUT} exited with ${_rc}")
endif()
