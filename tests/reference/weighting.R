# Reference weights from R's survey package for tests/analysis/test_weighting.py.
#
# Usage: Rscript tests/reference/weighting.R [output_dir]
#   output_dir defaults to the directory of this script. Writes
#     <output_dir>/data/apiclus1.csv, apistrat.csv    the api samples used (columns needed only)
#     <output_dir>/data/targets_<case>.csv            population totals in the platform's
#                                                     target-table format (variable,level,total),
#                                                     derived from apipop
#     <output_dir>/weighting_r.csv                    case,cds,weight: R's weights per school
# Requires R with the survey package (tested with survey 4.1.1, Debian r-cran-survey).

suppressPackageStartupMessages(library(survey))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 1) {
  out_dir <- args[[1]]
} else {
  file_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
  out_dir <- dirname(normalizePath(sub("^--file=", "", file_arg)))
}
dir.create(file.path(out_dir, "data"), recursive = TRUE, showWarnings = FALSE)

fmt <- function(x) sprintf("%.17g", x)

data(api)
keep <- c("cds", "dnum", "stype", "sch.wide", "comp.imp", "awards", "api99", "api00",
          "meals", "pw", "fpc")
write_sample <- function(df, name) {
  out <- df[, keep]
  for (col in c("stype", "sch.wide", "comp.imp", "awards")) out[[col]] <- as.character(out[[col]])
  out$pw <- fmt(out$pw)
  out$fpc <- fmt(out$fpc)
  write.csv(out, file.path(out_dir, "data", paste0(name, ".csv")), row.names = FALSE)
}
write_sample(apiclus1, "apiclus1")
write_sample(apistrat, "apistrat")

# Population totals from apipop, written as variable,level,total.
cat_totals <- function(vars) {
  tab <- as.data.frame(table(apipop[, vars, drop = FALSE]), stringsAsFactors = FALSE)
  level <- do.call(paste, c(tab[, vars, drop = FALSE], sep = "*"))
  data.frame(variable = paste(vars, collapse = "*"), level = level, total = tab$Freq)
}
num_total <- function(var) data.frame(variable = var, level = "", total = sum(apipop[[var]]))
write_targets <- function(case, parts) {
  tab <- do.call(rbind, parts)
  tab$total <- fmt(tab$total)
  write.csv(tab, file.path(out_dir, "data", paste0("targets_", case, ".csv")),
            row.names = FALSE, na = "")
}

dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
N <- nrow(apipop)
n_type <- table(apipop$stype)
n_schwide <- table(apipop$sch.wide)
tight <- list(maxit = 1000, epsilon = 1e-15)

results <- list()
add <- function(case, design) {
  results[[case]] <<- data.frame(case = case, cds = design$variables$cds,
                                 weight = fmt(weights(design)))
}

# 1. Post-stratification on school type.
write_targets("poststratify_stype", list(cat_totals("stype")))
add("poststratify_stype",
    postStratify(dclus1, ~stype, data.frame(stype = names(n_type), Freq = as.vector(n_type))))

# 2. Post-stratification on the joint cells of school type x school-wide target met.
write_targets("poststratify_stype_schwide", list(cat_totals(c("stype", "sch.wide"))))
add("poststratify_stype_schwide",
    postStratify(dclus1, ~stype + sch.wide,
                 as.data.frame(table(stype = apipop$stype, sch.wide = apipop$sch.wide))))

# 3. Raking (iterative proportional fitting) on two margins, to convergence.
write_targets("rake_stype_schwide", list(cat_totals("stype"), cat_totals("sch.wide")))
add("rake_stype_schwide",
    rake(dclus1, list(~stype, ~sch.wide),
         list(data.frame(stype = names(n_type), Freq = as.vector(n_type)),
              data.frame(sch.wide = names(n_schwide), Freq = as.vector(n_schwide))),
         control = tight))

# 4. Raking with a crossed margin (school type x school-wide target) and a single one.
write_targets("rake_crossed", list(cat_totals(c("stype", "sch.wide")), cat_totals("comp.imp")))
add("rake_crossed",
    rake(dstrat, list(~stype + sch.wide, ~comp.imp),
         list(as.data.frame(table(stype = apipop$stype, sch.wide = apipop$sch.wide)),
              as.data.frame(table(comp.imp = apipop$comp.imp))),
         control = tight))

# 5. The same raking as case 3, as calibration with calfun = "raking" (Newton).
pop_raking <- c(`(Intercept)` = N, stypeH = n_type[["H"]], stypeM = n_type[["M"]],
                sch.wideYes = n_schwide[["Yes"]])
add("calfun_raking_stype_schwide",
    calibrate(dclus1, ~stype + sch.wide, pop_raking, calfun = "raking", epsilon = 1e-13,
              maxit = 100))

# 6. GREG (linear calibration) on a categorical and a numeric variable.
write_targets("stype_api99", list(cat_totals("stype"), num_total("api99")))
pop_api99 <- c(`(Intercept)` = N, stypeH = n_type[["H"]], stypeM = n_type[["M"]],
               api99 = sum(apipop$api99))
add("linear_stype_api99", calibrate(dclus1, ~stype + api99, pop_api99))

# 7. Raking calibration (calfun = "raking") with a numeric variable.
add("raking_stype_api99",
    calibrate(dclus1, ~stype + api99, pop_api99, calfun = "raking", epsilon = 1e-13,
              maxit = 100))

# 8. Logit calibration with bounds on g = w / d.
add("logit_stype_api99",
    calibrate(dclus1, ~stype + api99, pop_api99, calfun = "logit", bounds = c(0.7, 1.7),
              epsilon = 1e-13, maxit = 100))

# 9. Bounded linear calibration (truncated linear), both bounds active.
add("linear_bounded_stype_api99",
    calibrate(dclus1, ~stype + api99, pop_api99, calfun = "linear", bounds = c(0.5, 1.7),
              epsilon = 1e-13, maxit = 100))

# 10. GREG with two numeric variables on the stratified sample.
write_targets("schwide_api99_meals",
              list(cat_totals("sch.wide"), num_total("api99"), num_total("meals")))
pop_meals <- c(`(Intercept)` = N, sch.wideYes = n_schwide[["Yes"]], api99 = sum(apipop$api99),
               meals = sum(apipop$meals))
add("linear_schwide_api99_meals", calibrate(dstrat, ~sch.wide + api99 + meals, pop_meals))

# 11. trimWeights on the GREG weights of case 6: one pass (the shares added push some weights
#     back over 38) and strict = TRUE (repeated until none is).
greg <- calibrate(dclus1, ~stype + api99, pop_api99)
add("trim_linear_15_38", trimWeights(greg, lower = 15, upper = 38))
add("trim_linear_15_38_strict", trimWeights(greg, lower = 15, upper = 38, strict = TRUE))

out <- do.call(rbind, results)
write.csv(out, file.path(out_dir, "weighting_r.csv"), row.names = FALSE)
