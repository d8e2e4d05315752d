{
  "targets": [
    {
      "target_name": "metaheac_gemm",
      "sources": ["addon.c", "gemm.c"],
      "cflags": ["-O3", "-ffp-contract=off", "-fno-strict-aliasing"]
    }
  ]
}
