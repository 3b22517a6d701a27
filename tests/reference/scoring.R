# Reference values for tests/analysis/test_scoring.py and tests/analysis/test_items.py.
#
# Usage: Rscript tests/reference/scoring.R [output_dir]
#   output_dir defaults to the folder scoring/ beside this script. Writes
#     <output_dir>/refq_stored.csv        400 synthetic stored responses to the questionnaire
#                                         REFQ_YAML of tests/analysis/samples.py (codes as the
#                                         store keeps them: -1 = don't know, empty = skipped),
#                                         with a survey weight column w
#     <output_dir>/scoring_r.csv          quantity,dimension,item,option,value: R's item
#                                         scores summary, dimension scores, index, item
#                                         statistics, Cronbach's alpha (psych::alpha and a
#                                         weighted cov.wt formula), distractor shares, PCA
#                                         (prcomp, weighted eigen) and one-factor ML
#                                         (factanal) of the dimension scores
#     <output_dir>/scoring_r_scores.csv   response_id and R's item, dimension and index
#                                         scores per response
# Requires R with psych (tested with psych 2.2.9, Debian r-cran-psych) and base stats.
# Scoring here is written independently from the Python code, from FORMAT.md "Scoring".

suppressPackageStartupMessages(library(psych))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 1) {
  out_dir <- args[[1]]
} else {
  file_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
  out_dir <- file.path(dirname(normalizePath(sub("^--file=", "", file_arg))), "scoring")
}
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))

# ---------------------------------------------------------------- synthetic stored responses
set.seed(20260301)
n <- 400
theta <- rnorm(n)
w <- round(runif(n, 0.5, 3), 4)
correct_code <- c(k1 = 1, k2 = 2, k3 = 3, k4 = 4, k5 = 1, s1 = 2, s2 = 3)
difficulty <- c(k1 = -0.8, k2 = -0.2, k3 = 0.3, k4 = 0.9, k5 = 0, s1 = -0.5, s2 = 0.4)
d <- data.frame(response_id = sprintf("resp%018d", 0:(n - 1)))
for (item in names(correct_code)) {
  right <- runif(n) < plogis(1.3 * theta - difficulty[[item]])
  wrong_codes <- setdiff(1:4, correct_code[[item]])
  wrong <- sample(wrong_codes, n, replace = TRUE)
  code <- ifelse(right, correct_code[[item]], ifelse(runif(n) < 0.3, -1, wrong))
  d[[item]] <- code
}
d$k5[runif(n) < 0.08] <- NA                       # skipped (not required)
s3_right <- runif(n) < plogis(1.1 * theta)
d$s3 <- ifelse(s3_right, 120, ifelse(runif(n) < 0.25, -1,
                                     sample(c(100, 110, 121, 240), n, replace = TRUE)))
likert <- function(latent, cuts) as.integer(cut(latent, c(-Inf, cuts, Inf)))
att_cuts <- list(a1 = c(-1.5, -0.5, 0.3, 1.2), a2 = c(-1.2, -0.3, 0.5, 1.4),
                 a3 = c(-1.8, -0.8, 0, 1), a4 = c(-1, 0, 0.8, 1.6), a5 = c(-1.4, -0.4, 0.4, 1.3))
for (item in names(att_cuts)) {
  code <- likert(0.9 * theta + rnorm(n), att_cuts[[item]])
  if (item %in% c("a2", "a4")) code <- 6L - code   # reverse-worded: agreeing is worse
  d[[item]] <- code
}
d$a5[runif(n) < 0.1] <- -1                         # don't know on a scale item
beh_cuts <- list(b1 = c(-0.6, 0.6), b2 = c(-0.2, 0.9), b3 = c(-0.9, 0.4), b4 = c(-0.4, 0.7))
for (item in names(beh_cuts)) d[[item]] <- likert(0.8 * theta + rnorm(n), beh_cuts[[item]])
d$w <- w
stored <- d
for (col in setdiff(names(stored), c("response_id", "w"))) {
  stored[[col]] <- ifelse(is.na(stored[[col]]), "", as.character(stored[[col]]))
}
stored$w <- sprintf("%.4f", w)
write.csv(stored, file.path(out_dir, "refq_stored.csv"), row.names = FALSE,
          quote = TRUE)

# ---------------------------------------------------------------- scoring (FORMAT.md rules)
sc <- data.frame(row.names = seq_len(n))
for (item in names(correct_code)) {
  x <- d[[item]]
  sc[[item]] <- ifelse(is.na(x), NA, as.numeric(x == correct_code[[item]]))  # dk (-1) -> 0
}
sc$s3 <- ifelse(is.na(d$s3), NA, as.numeric(d$s3 == 120))
for (item in names(att_cuts)) {
  x <- d[[item]]
  pos <- ifelse(x < 0, NA, (x - 1) / 4)                                       # dk left out
  if (item %in% c("a2", "a4")) pos <- 1 - pos
  sc[[item]] <- pos
}
sc$b1 <- c(0, 0.5, 1)[d$b1]                                                   # points 0/1/2 of 2
sc$b2 <- c(0, 0.5, 1)[d$b2]
sc$b3 <- (d$b3 - 1) / 2
sc$b4 <- (d$b4 - 1) / 2
dims <- list(knowledge = c("k1", "k2", "k3", "k4", "k5"), skills = c("s1", "s2", "s3"),
             attitude = c("a1", "a2", "a3", "a4", "a5"), behaviour = c("b1", "b2", "b3", "b4"))
weights <- c(knowledge = 0.3, skills = 0.2, attitude = 0.25, behaviour = 0.25)
dim_scores <- sapply(dims, function(items) {
  m <- rowMeans(sc[, items, drop = FALSE], na.rm = TRUE) * 100
  ifelse(is.nan(m), NA, m)
})
index <- as.vector(dim_scores %*% weights)

per_response <- data.frame(response_id = d$response_id, sc, check.names = FALSE)
for (dn in names(dims)) per_response[[paste0("dim__", dn)]] <- dim_scores[, dn]
per_response$literacy_index <- index
per_response_out <- per_response
for (col in names(per_response_out)[-1]) per_response_out[[col]] <- fmt(per_response_out[[col]])
write.csv(per_response_out, file.path(out_dir, "scoring_r_scores.csv"), row.names = FALSE)

rows <- list()
add <- function(quantity, dimension = "", item = "", option = "", value) {
  rows[[length(rows) + 1]] <<- data.frame(quantity = quantity, dimension = dimension,
                                          item = item, option = option, value = fmt(value))
}

# ---------------------------------------------------------------- item statistics
wcor <- function(x, y, wt) cov.wt(cbind(x, y), wt = wt, cor = TRUE)$cor[1, 2]
for (dn in names(dims)) {
  items <- dims[[dn]]
  X <- as.matrix(sc[, items])
  complete <- stats::complete.cases(X)
  Xc <- X[complete, ]
  add("n_complete", dn, value = sum(complete))
  # psych::alpha on complete cases (unweighted reference)
  a <- psych::alpha(as.data.frame(Xc), check.keys = FALSE, warnings = FALSE)
  add("alpha", dn, value = a$total$raw_alpha)
  for (j in seq_along(items)) {
    add("alpha_if_deleted", dn, items[j], value = a$alpha.drop$raw_alpha[j])
    add("psych_r_drop", dn, items[j], value = a$item.stats$r.drop[j])
  }
  # weighted alpha from the weighted covariance matrix
  walpha <- function(M, wt) {
    C <- cov.wt(M, wt = wt)$cov
    k <- ncol(M)
    k / (k - 1) * (1 - sum(diag(C)) / sum(C))
  }
  add("alpha_weighted", dn, value = walpha(Xc, w[complete]))
  for (j in seq_along(items)) {
    add("alpha_if_deleted_weighted", dn, items[j], value = walpha(Xc[, -j], w[complete]))
  }
  # item-rest (dimension score without the item) and item-total, pairwise available
  answered <- !is.na(X)
  sums <- rowSums(ifelse(answered, X, 0))
  counts <- rowSums(answered)
  total <- ifelse(counts > 0, 100 * sums / counts, NA)
  for (j in seq_along(items)) {
    xj <- X[, j]
    others <- counts - answered[, j]
    use <- answered[, j] & others > 0
    rest <- 100 * (sums[use] - xj[use]) / others[use]
    add("n", dn, items[j], value = sum(answered[, j]))
    add("difficulty", dn, items[j], value = mean(xj[answered[, j]]))
    add("difficulty_weighted", dn, items[j],
        value = weighted.mean(xj[answered[, j]], w[answered[, j]]))
    add("sd", dn, items[j], value = sd(xj[answered[, j]]))
    add("r_item_rest", dn, items[j], value = cor(xj[use], rest))
    add("r_item_total", dn, items[j], value = cor(xj[use], total[use]))
    add("r_item_rest_weighted", dn, items[j], value = wcor(xj[use], rest, w[use]))
  }
}

# ---------------------------------------------------------------- distractors (weighted shares)
for (item in c(names(correct_code), names(att_cuts), names(beh_cuts))) {
  x <- d[[item]]
  ok <- !is.na(x)
  for (code in sort(unique(c(x[ok], if (item %in% c(names(correct_code), "a5")) -1)))) {
    add("share_weighted", "", item, as.character(code),
        value = sum(w[ok & x == code]) / sum(w[ok]))
    add("count", "", item, as.character(code), value = sum(ok & x == code))
  }
}

# ---------------------------------------------------------------- index weights
D <- dim_scores[stats::complete.cases(dim_scores), ]
Dw <- w[stats::complete.cases(dim_scores)]
add("n_index", value = nrow(D))
pc <- prcomp(D, scale. = TRUE)
sign1 <- sign(sum(pc$rotation[, 1]))
for (j in seq_len(ncol(D))) {
  add("pca_eigenvalue", value = pc$sdev[j]^2, item = as.character(j))
  add("pca_loading", colnames(D)[j], value = sign1 * pc$rotation[j, 1] * pc$sdev[1])
}
R_w <- cov.wt(D, wt = Dw, cor = TRUE)$cor
ew <- eigen(R_w, symmetric = TRUE)
signw <- sign(sum(ew$vectors[, 1]))
for (j in seq_len(ncol(D))) {
  add("pca_weighted_eigenvalue", value = ew$values[j], item = as.character(j))
  add("pca_weighted_loading", colnames(D)[j], value = signw * ew$vectors[j, 1] * sqrt(ew$values[1]))
}
fa <- factanal(covmat = cor(D), factors = 1, n.obs = nrow(D))
signf <- sign(sum(fa$loadings[, 1]))
for (j in seq_len(ncol(D))) {
  add("factor_loading", colnames(D)[j], value = signf * fa$loadings[j, 1])
  add("factor_uniqueness", colnames(D)[j], value = fa$uniquenesses[j])
}
faw <- factanal(covmat = R_w, factors = 1, n.obs = nrow(D))
signfw <- sign(sum(faw$loadings[, 1]))
for (j in seq_len(ncol(D))) {
  add("factor_weighted_loading", colnames(D)[j], value = signfw * faw$loadings[j, 1])
  add("factor_weighted_uniqueness", colnames(D)[j], value = faw$uniquenesses[j])
}

out <- do.call(rbind, rows)
write.csv(out, file.path(out_dir, "scoring_r.csv"), row.names = FALSE)
cat("wrote", nrow(out), "reference values\n")
