#Requires -Version 7.4
# The GKE cmdlets at module level, against the GKE API simulator: endpoint overrides from the environment,
# pipelines between the commands, format views, and Application Default Credentials in a fresh pwsh.
BeforeAll {
    Import-Module $env:RHAII_MODULE_MANIFEST -Force
    $null = Get-TpuTopology -Accelerator v6e   # creates the module's load context
    # Simulator types live in RhaiiGke.Sandbox in the RhaiiGke AssemblyLoadContext, which PowerShell type
    # literals do not search; load it through that context (the module loads it on first use the same way).
    $alc = [System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -eq 'RhaiiGke' | Select-Object -First 1
    $script:engine = if ($alc) { $alc.LoadFromAssemblyName([System.Reflection.AssemblyName]::new('RhaiiGke.Sandbox')) }
                     else { [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'RhaiiGke.Sandbox' } | Select-Object -First 1 }
    $options = [Activator]::CreateInstance($engine.GetType('RhaiiGke.Sandbox.Gke.GkeApiSimulatorOptions'))
    $options.OperationDuration = [timespan]::FromMilliseconds(50)
    $script:sim = [Activator]::CreateInstance($engine.GetType('RhaiiGke.Sandbox.Gke.GkeApiSimulator'), @($options))
    $script:saved = @{}
    foreach ($kv in $sim.EnvironmentVariables.GetEnumerator()) {
        $saved[$kv.Key] = [Environment]::GetEnvironmentVariable($kv.Key)
        [Environment]::SetEnvironmentVariable($kv.Key, $kv.Value)
    }
    $script:token = ConvertTo-SecureString $sim.IssueToken() -AsPlainText -Force
    $script:gke = @{ Project = 'pester-proj'; AccessToken = $token }
    $script:pwsh = [Environment]::ProcessPath
    $script:pre = @(if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { Join-Path $PSHOME 'pwsh.dll' })
}

AfterAll {
    foreach ($kv in $saved.GetEnumerator()) { [Environment]::SetEnvironmentVariable($kv.Key, $kv.Value) }
    $sim.Dispose()
}

Describe 'GKE cluster lifecycle through the pipeline' -Tag Gke {
    It 'creates, scales to zero and back, prices, writes a kubeconfig and removes' {
        $cluster = New-TpuCluster @gke -Name pester -Zone europe-west4-a -Topology 2x2 -InitialNodeCount 1 -MaxNodes 2 -SystemNodeCount 1
        $cluster | Should -BeOfType ([RhaiiGke.TpuCluster])
        $cluster.Status | Should -Be 'RUNNING'
        $cluster.TpuNodePools[0].MachineType | Should -Be 'ct6e-standard-4t'

        $cred = $cluster | Get-TpuClusterCredential @gke -Path (Join-Path $TestDrive 'kubeconfig')
        $cred.ContextName | Should -Be 'gke_pester-proj_europe-west4-a_pester'
        Get-Content (Join-Path $TestDrive 'kubeconfig') -Raw | Should -Match 'gke-gcloud-auth-plugin'

        ($cluster | Set-TpuNodePool @gke -ScaleToZero).NodeCount | Should -Be 0
        $zero = Get-TpuCluster @gke -Name pester -Zone europe-west4-a | Get-RhaiiCostEstimate
        $zero.TpuHourly | Should -Be 0
        $zero.MaxHourly | Should -BeGreaterThan 20
        ($cluster | Set-TpuNodePool @gke -Size 1).NodeCount | Should -Be 1

        Get-TpuCluster @gke -Name pester -Zone europe-west4-a | Remove-TpuCluster @gke -Force -WarningAction SilentlyContinue
        Get-TpuCluster @gke -Name pester -Zone europe-west4-a -ErrorAction SilentlyContinue -ErrorVariable e | Should -BeNullOrEmpty
        $e[0].FullyQualifiedErrorId | Should -Match '^TpuClusterNotFound'
    }

    It 'formats clusters, pools, checks and estimates with the module views' {
        $null = New-TpuCluster @gke -Name view -Zone europe-west4-a -SystemNodeCount 1
        (Get-TpuCluster @gke | Out-String -Width 160) | Should -Match 'TPU pools'
        ((Get-TpuCluster @gke -Name view -Zone europe-west4-a).NodePools | Out-String -Width 200) | Should -Match 'Autoscale'
        (Test-RhaiiPrerequisites @gke -Zone europe-west4-a -Accelerator v6e -Topology 2x2 | Out-String -Width 200) | Should -Match 'Passed'
        (Get-RhaiiCostEstimate -Topology 2x2 | Out-String -Width 200) | Should -Match 'Prices of'
        Remove-TpuCluster @gke -Name view -Zone europe-west4-a -Force -WarningAction SilentlyContinue
    }

    It 'stops with a typed quota error before creating anything' {
        $sim.SetQuota('pester-proj', 'us-east5', 'TPU_V6E_SLICE', 0)
        { New-TpuCluster @gke -Name noquota -Zone us-east5-a -ErrorAction Stop } | Should -Throw -ErrorId 'GkeQuotaExceeded*'
        $sim.ClusterKeys | Should -Not -Contain 'pester-proj/us-east5-a/noquota'
    }
}

Describe 'Application Default Credentials' -Tag Gke {
    It 'takes the key and project from GOOGLE_APPLICATION_CREDENTIALS in a fresh pwsh' {
        $key = $sim.WriteServiceAccountKey((Join-Path $TestDrive 'adc.json'), 'adc-proj', 'rhaii')
        $null = New-TpuCluster @gke -Name adc -Zone us-east5-a -Project adc-proj -SystemNodeCount 1
        $old = $env:GOOGLE_APPLICATION_CREDENTIALS
        try {
            $env:GOOGLE_APPLICATION_CREDENTIALS = $key
            $out = & $pwsh @pre -NoProfile -NonInteractive -Command "Import-Module '$env:RHAII_MODULE_MANIFEST'; (Get-TpuCluster -Zone us-east5-a).Name; (Test-RhaiiPrerequisites).Checks[0].Message" 2>&1 | Out-String
        } finally { $env:GOOGLE_APPLICATION_CREDENTIALS = $old }
        $LASTEXITCODE | Should -Be 0 -Because $out
        $out | Should -Match '(?m)^adc\s*$'
        $out | Should -Match 'Application Default Credentials'
        $out | Should -Not -Match 'ya29\.'
    }
}
