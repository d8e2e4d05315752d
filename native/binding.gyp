{
  "targets": [
    {
      "target_name": "metaheac_native",
      "sources": ["addon.c", "gemm.c", "adam.c"],
      "cflags": ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fno-strict-aliasing"]
    }
  ]
}
