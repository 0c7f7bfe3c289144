-- One row per number of segments k tried: inertia, mean silhouette (on a seeded sample of up to 5,000
-- buyers), Calinski-Harabasz and Davies-Bouldin indices, and whether k was chosen (largest silhouette).
-- record_type = 'k_score' of the fit table.
with

fit as (

    select * from {{ ref('ml_customer_segments_fit') }}

),

final as (

    select
        k,
        inertia,
        silhouette,
        calinski_harabasz,
        davies_bouldin,
        is_chosen

    from fit
    where record_type = 'k_score'

)

select * from final
